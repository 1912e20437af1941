#+++++++++++++++++++++++++++++
# instance tiny: 2 jobs x 2 machines, optimal makespan 6
#+++++++++++++++++++++++++++++
2 2
0 3 1 2
1 4 0 1
